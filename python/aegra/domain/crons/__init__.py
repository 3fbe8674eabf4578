"""Crons: runs created on a schedule, on a thread of their own or on a new thread each time."""
