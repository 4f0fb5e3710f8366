"""What a run spends and who is told: budgets, budget alerts and notices."""
