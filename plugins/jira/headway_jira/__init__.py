"""headway connector for Jira Cloud and Data Center."""
