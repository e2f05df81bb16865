from rightsize.cli import main

main()
