"""The stages from spec to code: plan, file list, generate, debug, edits."""
