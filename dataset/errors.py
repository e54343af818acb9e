"""The one exception the data code raises for a user's mistake: a missing file, a corrupt image, a bad layout."""


class DatasetError(ValueError):
    """Bad input data. The message is one line that names the file or folder and what was expected."""
