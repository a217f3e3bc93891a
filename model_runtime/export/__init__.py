"""The previs export's runtime half: what the extension's stdlib export cannot write itself (the `editorial`
command: OTIO, CMX 3600 EDL and AAF from the extension's edit.json)."""
