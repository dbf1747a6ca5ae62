"""System settings (系统设置) for the system administrator."""
