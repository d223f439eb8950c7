"""dfdc-lake: the DFDC training set as a resumable lake of face crops, log-mel spectrograms and labels."""

__version__ = "0.1.0"
