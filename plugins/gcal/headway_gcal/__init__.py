"""headway connector for Google Calendar."""
