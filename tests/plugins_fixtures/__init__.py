"""Small test plugins: one good, three deliberately broken (see test_plugins.py)."""
