"""Who can be asked: regions, teams, people, rosters and coverage rules."""
