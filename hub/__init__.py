"""The Satchel hub: serves built bundles to a school's devices and receives learners' progress.

`satchel hub` runs it (hub/cli.py). The progress file it accepts is docs/progress.md's; its
storage is hub/store.py; the static files' headers are hub/static.py's."""
