"""Protocol lifecycle services, one room per concern: `lifecycle` (create, list, show, control),
`phases` (plan, execute, QA), `checkouts` (branches, worktrees), `delivery` (integrate, land),
`spend` (budgets, notices) and `health` (doctor)."""
