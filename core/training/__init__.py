"""Objectives, optimizers and schedules, the trainer loop and run folders."""
