"""A person's rights (issue 15): export what Attract holds about them, erase it, keep their consent current."""
