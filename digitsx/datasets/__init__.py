"""What every task's datasets share: a finished dataset's folder (:mod:`.folder`), LMDB records
(:mod:`.lmdb_io`), image loading and resizing (:mod:`.resize`), safe label-file reading
(:mod:`.labelfiles`), the dataset create route and form result (:mod:`.routes`,
:mod:`.forms`), Explore's paging (:mod:`.explore`) and the model form's dataset summary line.

Nothing here imports a task package; each task's dataset form, build worker and pages live in
its own package (image classification's in :mod:`digitsx.classification`).
"""
