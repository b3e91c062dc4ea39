# Data: provisioning with checksums (get_data.py), and the fixed class-balanced test subset every stage reads.
DATASET_OF_FOLDER = {folder: name for name, folder in FOLDER.items()}


rule data:
    output:
        str(DATA / "{folder}" / "provenance.json"),
    params:
        dataset=lambda w: DATASET_OF_FOLDER[w.folder],
    log:
        log("data_{folder}"),
    resources:
        **resources_of("data"),
    shell:
        script("get_data.py") + " --dataset {params.dataset} --data_dir " + shlex.quote(str(DATA)) + " 2>&1 | tee {log}"


rule data_cifar:
    output:
        str(DATA / "CIFAR10" / CIFAR_CACHE),
    log:
        log("data_cifar"),
    resources:
        **resources_of("data"),
    shell:
        script("get_data.py") + " --dataset cifar --data_dir " + shlex.quote(str(DATA)) + " 2>&1 | tee {log}"


rule subset:
    input:
        lambda w: data_file(w.dataset),
    output:
        str(ROOT / "subsets" / ("{dataset}_n={n}_seed=%d.pt" % SUBSET_SEED)),
    log:
        log("subset_{dataset}_{n}"),
    resources:
        **resources_of("data"),
    shell:
        script("get_data.py") + " --dataset {wildcards.dataset} --n_inputs {wildcards.n} --data_dir "
        + shlex.quote(str(DATA)) + " --exp_dir " + shlex.quote(str(EXP)) + (" --debug" if DEBUG else "")
        + " 2>&1 | tee {log}"
