"""The rules of the help desk: plain functions over the models, no request or session in sight."""
