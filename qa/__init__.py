"""Bulletin QA: cited question answering over Chinese government bulletins."""

__version__ = "0.1.0"
