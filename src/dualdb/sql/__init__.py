"""PyPika queries → dialect SQL with bound parameters (see :mod:`dualdb.sql.compile`)."""
