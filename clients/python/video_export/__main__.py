"""``python -m video_export``: the ``video-export`` command."""

from video_export.cli import main

raise SystemExit(main())
