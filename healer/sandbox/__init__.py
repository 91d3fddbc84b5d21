"""Where generated code runs: Docker (primary), bubblewrap (fallback), or unsandboxed (unsafe)."""
