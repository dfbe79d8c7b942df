"""Managers sign off: the review workbook, the re-plan, the audit trail."""
