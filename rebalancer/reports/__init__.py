"""What a person reads: the terminal's text and the HTML pages."""
