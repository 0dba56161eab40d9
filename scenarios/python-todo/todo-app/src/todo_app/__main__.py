"""Allow ``python -m todo_app``."""

from todo_app.server import main

raise SystemExit(main())
