"""swe-train: the offline side of swe-lsp. It turns issue/PR data into trajectories, filters them
with development-contextualized rejection sampling, and trains the policy, PRM and ORM adapters the
server loads, using the server's own prompts, tools and formats (imported from `swe_lsp`).
"""
