"""Hooks and loops of mmseg_refiner."""
