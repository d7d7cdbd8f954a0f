"""headway connector for GitHub and GitHub Enterprise."""
