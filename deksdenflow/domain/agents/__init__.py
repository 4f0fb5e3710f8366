"""What agents are asked and answer, and how their text is made safe to keep and show."""
