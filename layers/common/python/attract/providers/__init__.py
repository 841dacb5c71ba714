"""Adapters to outside services (mail, …), each behind a Protocol the logic depends on. Imported lazily."""
