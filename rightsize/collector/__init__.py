"""Sampling running containers into the dataset (`rightsize collect`)."""
