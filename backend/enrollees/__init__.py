"""Enrollees (registered persons): finding one by ID number and name, and their special groups."""
