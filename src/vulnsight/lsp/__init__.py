"""`vulnsight lsp`: findings in the editor, over the Language Server Protocol (pygls).

An edge like the CLI and the local API: it scans through the review workflow
(`review.workflow.review_scan`), so the project's configuration, suppressions, triage
and baseline apply as they do to `vulnsight scan`.
"""
