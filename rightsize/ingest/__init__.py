"""Reading outside traces into the dataset (`rightsize import`)."""
