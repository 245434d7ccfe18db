"""graphinv's inventory in the tools operators already use: Ansible, spreadsheets, files, a report."""
