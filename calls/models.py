"""Call sessions and their timelines arrive with the calls issue; the app is wired in from the start."""
