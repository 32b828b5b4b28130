JOBS = []
