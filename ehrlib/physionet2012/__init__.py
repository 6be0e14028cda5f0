"""PhysioNet/Computing in Cardiology Challenge 2012: real ICU stays, located, downloaded, verified and read.

Modules:
- `files`: where the four files are (`locate_physionet2012`, `candidate_folders`), their download
  (`download_physionet2012`, `ensure_physionet2012`), safe in-memory reading of the record tarballs or
  folders (`read_record_files`), the outcomes files (`read_outcomes`) and `verify_physionet2012`.
- `cleaning`: the documented rule per kind of impossible value (`CLEANING_RULES`), each counted.
- `reader`: the fast reader (`read_physionet2012`) into hourly `EpisodeSet`s with static descriptors,
  outcomes and a cleaning table (`PhysionetSet`), its variable mapping (`PARAMETER_MAP`, `VARIABLES`)
  and its cleaning rules; cached as .npz with a JSON header (no pickles).

It sits at the data level beside `ehrlib.icu`, whose `EpisodeSet` and plausible ranges it reuses.
"""
