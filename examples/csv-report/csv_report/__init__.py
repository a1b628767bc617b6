"""csv-report: a summary of a CSV file with pandas, printed and written as JSON."""
