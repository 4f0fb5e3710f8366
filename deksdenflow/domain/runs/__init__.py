"""What a run is: its snapshot models, stages, step graph, files and transcripts."""
