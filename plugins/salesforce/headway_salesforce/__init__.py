"""headway connector for Salesforce."""
