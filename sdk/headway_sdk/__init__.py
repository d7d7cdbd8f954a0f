"""headway-sdk: what connector authors build on."""
