"""The review console (issue 13, docs/REVIEW.md): a queue of the documents that need a person, the page with
its boxes beside the extracted values, and edit / approve / reject with an audit trail.

Entry points for the rest of the service:
- `service.review.hooks.ReviewHooks`: the ports `ReviewDecisions`, `AttentionQueue` and `ReviewPushes`
  (service/ports.py) that completion, quarantine and reconcile call; built by `bootstrap.build`.
- `service.review.views.register_review(app, service)`: serve the pages (REVIEW_ENABLED), from `web`.
- `service.review.users.add_user`: what `nanonets-ingest review add-user NAME` (service/cli/review.py) runs.
- `service.review.overrides.apply_overrides`, `service.review.attention.attention_reasons`: the pure rules.

Nothing is imported here, so the bootstrap can import `hooks` without loading Flask views or PDFium.
"""
