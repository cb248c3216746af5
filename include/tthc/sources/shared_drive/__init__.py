"""Source 1: the unit workbooks on the shared drive (spec "Source 1").

discover (scan the share, archive each content version) → parse (labels by text, cells, rates) →
stage (stg_submission, stg_submission_row, file_observation). `template` writes the blank workbooks
units fill in, in the same format the parser reads.
"""
