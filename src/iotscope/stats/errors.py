"""The one exception the statistics raise for input they cannot honestly summarise."""


class StatsInputError(ValueError):
    """Input on which a test is undefined (too few groups or observations, no variance, gaps).

    Raised instead of returning NaN so that no table with empty or infinite cells is ever written.
    The message names the group, model, column or file concerned.
    """
