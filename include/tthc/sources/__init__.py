"""The pipeline's sources, each a package of the same shape: find or fetch → parse → stage.

shared_drive: unit workbooks on the office's share (discover → parse → stage).
portal: dossier records from the provincial portal (fetch → privacy → stage).
"""
