# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_ccops_global_optspecs
    string join \n c/config= e/env= json q/quiet v/verbose y/yes no-input no-color log-format= log-file= h/help V/version
end

function __fish_ccops_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_ccops_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_ccops_using_subcommand
    set -l cmd (__fish_ccops_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c ccops -n "__fish_ccops_needs_command" -s c -l config -d 'Config file [default: $CCOPS_CONFIG, else ccops.yaml here or in the nearest parent folder]' -r -F
complete -c ccops -n "__fish_ccops_needs_command" -s e -l env -d 'Environment [default: `default_environment` in the config, or the only one]' -r
complete -c ccops -n "__fish_ccops_needs_command" -l log-format -d 'Format of the log lines on stderr' -r -f -a "text\t''
json\t''"
complete -c ccops -n "__fish_ccops_needs_command" -l log-file -d 'Also append log lines to FILE' -r -F
complete -c ccops -n "__fish_ccops_needs_command" -l json -d 'Machine-readable output on stdout (one JSON document)'
complete -c ccops -n "__fish_ccops_needs_command" -s q -l quiet -d 'Errors only (for crontab)'
complete -c ccops -n "__fish_ccops_needs_command" -s v -l verbose -d 'More detail on stderr (repeatable; -vv adds the raw error chain under an error)'
complete -c ccops -n "__fish_ccops_needs_command" -s y -l yes -d 'Answer yes to confirmations (required when stdin is not a terminal)'
complete -c ccops -n "__fish_ccops_needs_command" -l no-input -d 'Never wait for an answer, even at a terminal: a confirmation --yes did not answer fails (exit 2) before anything is changed'
complete -c ccops -n "__fish_ccops_needs_command" -l no-color -d 'No colours (NO_COLOR is honoured too)'
complete -c ccops -n "__fish_ccops_needs_command" -s h -l help -d 'Print help'
complete -c ccops -n "__fish_ccops_needs_command" -s V -l version -d 'Print version'
complete -c ccops -n "__fish_ccops_needs_command" -f -a "deploy" -d 'Deploy VERSION to an environment (backup, migrate, roll out, check health)'
complete -c ccops -n "__fish_ccops_needs_command" -f -a "rollback" -d 'Go back to the previous successful release, or the one named'
complete -c ccops -n "__fish_ccops_needs_command" -f -a "releases" -d 'Deployment history of an environment'
complete -c ccops -n "__fish_ccops_needs_command" -f -a "scale" -d 'Set the number of replicas of services, e.g. `backend=3 worker=8`'
complete -c ccops -n "__fish_ccops_needs_command" -f -a "migrate" -d 'Run or inspect database migrations'
complete -c ccops -n "__fish_ccops_needs_command" -f -a "health" -d 'Check every service\'s containers and the configured health checks'
complete -c ccops -n "__fish_ccops_needs_command" -f -a "backup" -d 'Take a backup of the project\'s databases and volumes, or manage backups'
complete -c ccops -n "__fish_ccops_needs_command" -f -a "restore" -d 'Restore a backup (verified before anything is touched)'
complete -c ccops -n "__fish_ccops_needs_command" -f -a "wal" -d 'PostgreSQL\'s WAL archive for point-in-time recovery: stream, verify, status'
complete -c ccops -n "__fish_ccops_needs_command" -f -a "scan" -d 'Audit the Compose project for security and production-readiness problems'
complete -c ccops -n "__fish_ccops_needs_command" -f -a "config" -d 'Validate or print the resolved configuration'
complete -c ccops -n "__fish_ccops_needs_command" -f -a "init" -d 'Write a ccops.yaml for the Compose project in this folder'
complete -c ccops -n "__fish_ccops_needs_command" -f -a "doctor" -d 'Preflight: engine, compose, config, services, tools, disk, remotes, cron'
complete -c ccops -n "__fish_ccops_needs_command" -f -a "completions" -d 'Print shell completions'
complete -c ccops -n "__fish_ccops_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ccops -n "__fish_ccops_using_subcommand deploy" -l lock-wait -d 'Wait this long for another operation\'s lock instead of failing at once' -r
complete -c ccops -n "__fish_ccops_using_subcommand deploy" -s c -l config -d 'Config file [default: $CCOPS_CONFIG, else ccops.yaml here or in the nearest parent folder]' -r -F
complete -c ccops -n "__fish_ccops_using_subcommand deploy" -l log-format -d 'Format of the log lines on stderr' -r -f -a "text\t''
json\t''"
complete -c ccops -n "__fish_ccops_using_subcommand deploy" -l log-file -d 'Also append log lines to FILE' -r -F
complete -c ccops -n "__fish_ccops_using_subcommand deploy" -l allow-weak-secrets -d 'Deploy even when a secret has a weak default in a production-like environment'
complete -c ccops -n "__fish_ccops_using_subcommand deploy" -l dry-run -d 'Print the plan without acting'
complete -c ccops -n "__fish_ccops_using_subcommand deploy" -l json -d 'Machine-readable output on stdout (one JSON document)'
complete -c ccops -n "__fish_ccops_using_subcommand deploy" -s q -l quiet -d 'Errors only (for crontab)'
complete -c ccops -n "__fish_ccops_using_subcommand deploy" -s v -l verbose -d 'More detail on stderr (repeatable; -vv adds the raw error chain under an error)'
complete -c ccops -n "__fish_ccops_using_subcommand deploy" -s y -l yes -d 'Answer yes to confirmations (required when stdin is not a terminal)'
complete -c ccops -n "__fish_ccops_using_subcommand deploy" -l no-input -d 'Never wait for an answer, even at a terminal: a confirmation --yes did not answer fails (exit 2) before anything is changed'
complete -c ccops -n "__fish_ccops_using_subcommand deploy" -l no-color -d 'No colours (NO_COLOR is honoured too)'
complete -c ccops -n "__fish_ccops_using_subcommand deploy" -s h -l help -d 'Print help'
complete -c ccops -n "__fish_ccops_using_subcommand deploy" -s V -l version -d 'Print version'
complete -c ccops -n "__fish_ccops_using_subcommand rollback" -l to -d 'Release to go back to [default: the previous successful one]' -r
complete -c ccops -n "__fish_ccops_using_subcommand rollback" -l lock-wait -d 'Wait this long for another operation\'s lock instead of failing at once' -r
complete -c ccops -n "__fish_ccops_using_subcommand rollback" -s c -l config -d 'Config file [default: $CCOPS_CONFIG, else ccops.yaml here or in the nearest parent folder]' -r -F
complete -c ccops -n "__fish_ccops_using_subcommand rollback" -l log-format -d 'Format of the log lines on stderr' -r -f -a "text\t''
json\t''"
complete -c ccops -n "__fish_ccops_using_subcommand rollback" -l log-file -d 'Also append log lines to FILE' -r -F
complete -c ccops -n "__fish_ccops_using_subcommand rollback" -l with-data -d 'Also restore the backup taken before the release being undone'
complete -c ccops -n "__fish_ccops_using_subcommand rollback" -l dry-run -d 'Print the plan without acting'
complete -c ccops -n "__fish_ccops_using_subcommand rollback" -l json -d 'Machine-readable output on stdout (one JSON document)'
complete -c ccops -n "__fish_ccops_using_subcommand rollback" -s q -l quiet -d 'Errors only (for crontab)'
complete -c ccops -n "__fish_ccops_using_subcommand rollback" -s v -l verbose -d 'More detail on stderr (repeatable; -vv adds the raw error chain under an error)'
complete -c ccops -n "__fish_ccops_using_subcommand rollback" -s y -l yes -d 'Answer yes to confirmations (required when stdin is not a terminal)'
complete -c ccops -n "__fish_ccops_using_subcommand rollback" -l no-input -d 'Never wait for an answer, even at a terminal: a confirmation --yes did not answer fails (exit 2) before anything is changed'
complete -c ccops -n "__fish_ccops_using_subcommand rollback" -l no-color -d 'No colours (NO_COLOR is honoured too)'
complete -c ccops -n "__fish_ccops_using_subcommand rollback" -s h -l help -d 'Print help'
complete -c ccops -n "__fish_ccops_using_subcommand rollback" -s V -l version -d 'Print version'
complete -c ccops -n "__fish_ccops_using_subcommand releases" -s c -l config -d 'Config file [default: $CCOPS_CONFIG, else ccops.yaml here or in the nearest parent folder]' -r -F
complete -c ccops -n "__fish_ccops_using_subcommand releases" -l log-format -d 'Format of the log lines on stderr' -r -f -a "text\t''
json\t''"
complete -c ccops -n "__fish_ccops_using_subcommand releases" -l log-file -d 'Also append log lines to FILE' -r -F
complete -c ccops -n "__fish_ccops_using_subcommand releases" -l json -d 'Machine-readable output on stdout (one JSON document)'
complete -c ccops -n "__fish_ccops_using_subcommand releases" -s q -l quiet -d 'Errors only (for crontab)'
complete -c ccops -n "__fish_ccops_using_subcommand releases" -s v -l verbose -d 'More detail on stderr (repeatable; -vv adds the raw error chain under an error)'
complete -c ccops -n "__fish_ccops_using_subcommand releases" -s y -l yes -d 'Answer yes to confirmations (required when stdin is not a terminal)'
complete -c ccops -n "__fish_ccops_using_subcommand releases" -l no-input -d 'Never wait for an answer, even at a terminal: a confirmation --yes did not answer fails (exit 2) before anything is changed'
complete -c ccops -n "__fish_ccops_using_subcommand releases" -l no-color -d 'No colours (NO_COLOR is honoured too)'
complete -c ccops -n "__fish_ccops_using_subcommand releases" -s h -l help -d 'Print help'
complete -c ccops -n "__fish_ccops_using_subcommand releases" -s V -l version -d 'Print version'
complete -c ccops -n "__fish_ccops_using_subcommand scale" -l lock-wait -d 'Wait this long for another operation\'s lock instead of failing at once' -r
complete -c ccops -n "__fish_ccops_using_subcommand scale" -s c -l config -d 'Config file [default: $CCOPS_CONFIG, else ccops.yaml here or in the nearest parent folder]' -r -F
complete -c ccops -n "__fish_ccops_using_subcommand scale" -l log-format -d 'Format of the log lines on stderr' -r -f -a "text\t''
json\t''"
complete -c ccops -n "__fish_ccops_using_subcommand scale" -l log-file -d 'Also append log lines to FILE' -r -F
complete -c ccops -n "__fish_ccops_using_subcommand scale" -l dry-run -d 'Print the plan without acting'
complete -c ccops -n "__fish_ccops_using_subcommand scale" -l json -d 'Machine-readable output on stdout (one JSON document)'
complete -c ccops -n "__fish_ccops_using_subcommand scale" -s q -l quiet -d 'Errors only (for crontab)'
complete -c ccops -n "__fish_ccops_using_subcommand scale" -s v -l verbose -d 'More detail on stderr (repeatable; -vv adds the raw error chain under an error)'
complete -c ccops -n "__fish_ccops_using_subcommand scale" -s y -l yes -d 'Answer yes to confirmations (required when stdin is not a terminal)'
complete -c ccops -n "__fish_ccops_using_subcommand scale" -l no-input -d 'Never wait for an answer, even at a terminal: a confirmation --yes did not answer fails (exit 2) before anything is changed'
complete -c ccops -n "__fish_ccops_using_subcommand scale" -l no-color -d 'No colours (NO_COLOR is honoured too)'
complete -c ccops -n "__fish_ccops_using_subcommand scale" -s h -l help -d 'Print help'
complete -c ccops -n "__fish_ccops_using_subcommand scale" -s V -l version -d 'Print version'
complete -c ccops -n "__fish_ccops_using_subcommand migrate" -l lock-wait -d 'Wait this long for another operation\'s lock instead of failing at once' -r
complete -c ccops -n "__fish_ccops_using_subcommand migrate" -s c -l config -d 'Config file [default: $CCOPS_CONFIG, else ccops.yaml here or in the nearest parent folder]' -r -F
complete -c ccops -n "__fish_ccops_using_subcommand migrate" -l log-format -d 'Format of the log lines on stderr' -r -f -a "text\t''
json\t''"
complete -c ccops -n "__fish_ccops_using_subcommand migrate" -l log-file -d 'Also append log lines to FILE' -r -F
complete -c ccops -n "__fish_ccops_using_subcommand migrate" -l dry-run -d 'Print the plan without acting'
complete -c ccops -n "__fish_ccops_using_subcommand migrate" -l json -d 'Machine-readable output on stdout (one JSON document)'
complete -c ccops -n "__fish_ccops_using_subcommand migrate" -s q -l quiet -d 'Errors only (for crontab)'
complete -c ccops -n "__fish_ccops_using_subcommand migrate" -s v -l verbose -d 'More detail on stderr (repeatable; -vv adds the raw error chain under an error)'
complete -c ccops -n "__fish_ccops_using_subcommand migrate" -s y -l yes -d 'Answer yes to confirmations (required when stdin is not a terminal)'
complete -c ccops -n "__fish_ccops_using_subcommand migrate" -l no-input -d 'Never wait for an answer, even at a terminal: a confirmation --yes did not answer fails (exit 2) before anything is changed'
complete -c ccops -n "__fish_ccops_using_subcommand migrate" -l no-color -d 'No colours (NO_COLOR is honoured too)'
complete -c ccops -n "__fish_ccops_using_subcommand migrate" -s h -l help -d 'Print help'
complete -c ccops -n "__fish_ccops_using_subcommand migrate" -s V -l version -d 'Print version'
complete -c ccops -n "__fish_ccops_using_subcommand health" -l timeout -d 'How long --wait polls' -r
complete -c ccops -n "__fish_ccops_using_subcommand health" -l format -d 'Output format' -r -f -a "table\t''
json\t''
nagios\t''
prometheus\t''"
complete -c ccops -n "__fish_ccops_using_subcommand health" -s c -l config -d 'Config file [default: $CCOPS_CONFIG, else ccops.yaml here or in the nearest parent folder]' -r -F
complete -c ccops -n "__fish_ccops_using_subcommand health" -l log-format -d 'Format of the log lines on stderr' -r -f -a "text\t''
json\t''"
complete -c ccops -n "__fish_ccops_using_subcommand health" -l log-file -d 'Also append log lines to FILE' -r -F
complete -c ccops -n "__fish_ccops_using_subcommand health" -l wait -d 'Poll until every check passes (or --timeout runs out)'
complete -c ccops -n "__fish_ccops_using_subcommand health" -l json -d 'Machine-readable output on stdout (one JSON document)'
complete -c ccops -n "__fish_ccops_using_subcommand health" -s q -l quiet -d 'Errors only (for crontab)'
complete -c ccops -n "__fish_ccops_using_subcommand health" -s v -l verbose -d 'More detail on stderr (repeatable; -vv adds the raw error chain under an error)'
complete -c ccops -n "__fish_ccops_using_subcommand health" -s y -l yes -d 'Answer yes to confirmations (required when stdin is not a terminal)'
complete -c ccops -n "__fish_ccops_using_subcommand health" -l no-input -d 'Never wait for an answer, even at a terminal: a confirmation --yes did not answer fails (exit 2) before anything is changed'
complete -c ccops -n "__fish_ccops_using_subcommand health" -l no-color -d 'No colours (NO_COLOR is honoured too)'
complete -c ccops -n "__fish_ccops_using_subcommand health" -s h -l help -d 'Print help'
complete -c ccops -n "__fish_ccops_using_subcommand health" -s V -l version -d 'Print version'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and not __fish_seen_subcommand_from list verify push prune drill schedule help" -l only -d 'Back up only these kinds (postgres, mysql, redis, volume, command) or component names' -r
complete -c ccops -n "__fish_ccops_using_subcommand backup; and not __fish_seen_subcommand_from list verify push prune drill schedule help" -l upload -d 'Upload the set to this remote after writing it' -r
complete -c ccops -n "__fish_ccops_using_subcommand backup; and not __fish_seen_subcommand_from list verify push prune drill schedule help" -l tag -d 'Tag recorded in the manifest (repeatable)' -r
complete -c ccops -n "__fish_ccops_using_subcommand backup; and not __fish_seen_subcommand_from list verify push prune drill schedule help" -s c -l config -d 'Config file [default: $CCOPS_CONFIG, else ccops.yaml here or in the nearest parent folder]' -r -F
complete -c ccops -n "__fish_ccops_using_subcommand backup; and not __fish_seen_subcommand_from list verify push prune drill schedule help" -s e -l env -d 'Environment [default: `default_environment` in the config, or the only one]' -r
complete -c ccops -n "__fish_ccops_using_subcommand backup; and not __fish_seen_subcommand_from list verify push prune drill schedule help" -l log-format -d 'Format of the log lines on stderr' -r -f -a "text\t''
json\t''"
complete -c ccops -n "__fish_ccops_using_subcommand backup; and not __fish_seen_subcommand_from list verify push prune drill schedule help" -l log-file -d 'Also append log lines to FILE' -r -F
complete -c ccops -n "__fish_ccops_using_subcommand backup; and not __fish_seen_subcommand_from list verify push prune drill schedule help" -l no-prune -d 'Do not apply the retention rules after a successful backup'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and not __fish_seen_subcommand_from list verify push prune drill schedule help" -l dry-run -d 'Print the plan without acting'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and not __fish_seen_subcommand_from list verify push prune drill schedule help" -l json -d 'Machine-readable output on stdout (one JSON document)'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and not __fish_seen_subcommand_from list verify push prune drill schedule help" -s q -l quiet -d 'Errors only (for crontab)'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and not __fish_seen_subcommand_from list verify push prune drill schedule help" -s v -l verbose -d 'More detail on stderr (repeatable; -vv adds the raw error chain under an error)'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and not __fish_seen_subcommand_from list verify push prune drill schedule help" -s y -l yes -d 'Answer yes to confirmations (required when stdin is not a terminal)'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and not __fish_seen_subcommand_from list verify push prune drill schedule help" -l no-input -d 'Never wait for an answer, even at a terminal: a confirmation --yes did not answer fails (exit 2) before anything is changed'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and not __fish_seen_subcommand_from list verify push prune drill schedule help" -l no-color -d 'No colours (NO_COLOR is honoured too)'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and not __fish_seen_subcommand_from list verify push prune drill schedule help" -s h -l help -d 'Print help'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and not __fish_seen_subcommand_from list verify push prune drill schedule help" -s V -l version -d 'Print version'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and not __fish_seen_subcommand_from list verify push prune drill schedule help" -f -a "list" -d 'List backup sets, newest first'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and not __fish_seen_subcommand_from list verify push prune drill schedule help" -f -a "verify" -d 'Re-check every file of a set against its manifest'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and not __fish_seen_subcommand_from list verify push prune drill schedule help" -f -a "push" -d 'Upload a set, or every set not yet uploaded, to a remote'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and not __fish_seen_subcommand_from list verify push prune drill schedule help" -f -a "prune" -d 'Delete backups the retention rules no longer keep'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and not __fish_seen_subcommand_from list verify push prune drill schedule help" -f -a "drill" -d 'Restore a set into a throwaway copy of the project, check it, time it, remove it'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and not __fish_seen_subcommand_from list verify push prune drill schedule help" -f -a "schedule" -d 'Install, show or remove the crontab entry for nightly backups'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and not __fish_seen_subcommand_from list verify push prune drill schedule help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from list" -l remote -d 'List the sets on this remote instead' -r
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from list" -s c -l config -d 'Config file [default: $CCOPS_CONFIG, else ccops.yaml here or in the nearest parent folder]' -r -F
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from list" -s e -l env -d 'Environment [default: `default_environment` in the config, or the only one]' -r
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from list" -l log-format -d 'Format of the log lines on stderr' -r -f -a "text\t''
json\t''"
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from list" -l log-file -d 'Also append log lines to FILE' -r -F
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from list" -l json -d 'Machine-readable output on stdout (one JSON document)'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Errors only (for crontab)'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from list" -s v -l verbose -d 'More detail on stderr (repeatable; -vv adds the raw error chain under an error)'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from list" -s y -l yes -d 'Answer yes to confirmations (required when stdin is not a terminal)'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from list" -l no-input -d 'Never wait for an answer, even at a terminal: a confirmation --yes did not answer fails (exit 2) before anything is changed'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from list" -l no-color -d 'No colours (NO_COLOR is honoured too)'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from verify" -l remote -d 'Verify the copy on this remote' -r
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from verify" -s c -l config -d 'Config file [default: $CCOPS_CONFIG, else ccops.yaml here or in the nearest parent folder]' -r -F
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from verify" -s e -l env -d 'Environment [default: `default_environment` in the config, or the only one]' -r
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from verify" -l log-format -d 'Format of the log lines on stderr' -r -f -a "text\t''
json\t''"
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from verify" -l log-file -d 'Also append log lines to FILE' -r -F
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from verify" -l json -d 'Machine-readable output on stdout (one JSON document)'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from verify" -s q -l quiet -d 'Errors only (for crontab)'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from verify" -s v -l verbose -d 'More detail on stderr (repeatable; -vv adds the raw error chain under an error)'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from verify" -s y -l yes -d 'Answer yes to confirmations (required when stdin is not a terminal)'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from verify" -l no-input -d 'Never wait for an answer, even at a terminal: a confirmation --yes did not answer fails (exit 2) before anything is changed'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from verify" -l no-color -d 'No colours (NO_COLOR is honoured too)'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from verify" -s h -l help -d 'Print help'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from verify" -s V -l version -d 'Print version'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from push" -l remote -d 'Remote to upload to' -r
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from push" -s c -l config -d 'Config file [default: $CCOPS_CONFIG, else ccops.yaml here or in the nearest parent folder]' -r -F
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from push" -s e -l env -d 'Environment [default: `default_environment` in the config, or the only one]' -r
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from push" -l log-format -d 'Format of the log lines on stderr' -r -f -a "text\t''
json\t''"
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from push" -l log-file -d 'Also append log lines to FILE' -r -F
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from push" -l json -d 'Machine-readable output on stdout (one JSON document)'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from push" -s q -l quiet -d 'Errors only (for crontab)'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from push" -s v -l verbose -d 'More detail on stderr (repeatable; -vv adds the raw error chain under an error)'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from push" -s y -l yes -d 'Answer yes to confirmations (required when stdin is not a terminal)'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from push" -l no-input -d 'Never wait for an answer, even at a terminal: a confirmation --yes did not answer fails (exit 2) before anything is changed'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from push" -l no-color -d 'No colours (NO_COLOR is honoured too)'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from push" -s h -l help -d 'Print help'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from push" -s V -l version -d 'Print version'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from prune" -l remote -d 'Prune this remote instead of the local directory' -r
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from prune" -s c -l config -d 'Config file [default: $CCOPS_CONFIG, else ccops.yaml here or in the nearest parent folder]' -r -F
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from prune" -s e -l env -d 'Environment [default: `default_environment` in the config, or the only one]' -r
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from prune" -l log-format -d 'Format of the log lines on stderr' -r -f -a "text\t''
json\t''"
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from prune" -l log-file -d 'Also append log lines to FILE' -r -F
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from prune" -l dry-run -d 'Print the plan without acting'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from prune" -l json -d 'Machine-readable output on stdout (one JSON document)'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from prune" -s q -l quiet -d 'Errors only (for crontab)'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from prune" -s v -l verbose -d 'More detail on stderr (repeatable; -vv adds the raw error chain under an error)'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from prune" -s y -l yes -d 'Answer yes to confirmations (required when stdin is not a terminal)'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from prune" -l no-input -d 'Never wait for an answer, even at a terminal: a confirmation --yes did not answer fails (exit 2) before anything is changed'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from prune" -l no-color -d 'No colours (NO_COLOR is honoured too)'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from prune" -s h -l help -d 'Print help'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from prune" -s V -l version -d 'Print version'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from drill" -l from -d 'Download the set from this remote (even when it is here too)' -r
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from drill" -l to-time -d 'Drill a restore to a point instead: PostgreSQL recovered to TIME from a base backup and the WAL archive in a scratch volume, checked, timed and removed (`2026-12-05 10:32:00` in this host\'s time zone; an offset or `Z` for another)' -r
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from drill" -l service -d 'With --to-time/--to-latest: the `backup.postgres` service [default: the only one with `pitr`]' -r
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from drill" -s c -l config -d 'Config file [default: $CCOPS_CONFIG, else ccops.yaml here or in the nearest parent folder]' -r -F
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from drill" -s e -l env -d 'Environment [default: `default_environment` in the config, or the only one]' -r
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from drill" -l log-format -d 'Format of the log lines on stderr' -r -f -a "text\t''
json\t''"
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from drill" -l log-file -d 'Also append log lines to FILE' -r -F
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from drill" -l to-latest -d 'The same, to the newest WAL stored'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from drill" -l json -d 'Machine-readable output on stdout (one JSON document)'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from drill" -s q -l quiet -d 'Errors only (for crontab)'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from drill" -s v -l verbose -d 'More detail on stderr (repeatable; -vv adds the raw error chain under an error)'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from drill" -s y -l yes -d 'Answer yes to confirmations (required when stdin is not a terminal)'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from drill" -l no-input -d 'Never wait for an answer, even at a terminal: a confirmation --yes did not answer fails (exit 2) before anything is changed'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from drill" -l no-color -d 'No colours (NO_COLOR is honoured too)'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from drill" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from drill" -s V -l version -d 'Print version'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from schedule" -l cron -d 'Cron schedule' -r
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from schedule" -l upload -d 'Upload each nightly backup to this remote as well' -r
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from schedule" -l drill -d 'Schedule (or, with `off`, remove) the backup drill\'s own line instead' -r -f -a "weekly\t'Sundays at 04:00'
monthly\t'The 1st of each month at 04:00'
off\t'Remove the drill line'"
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from schedule" -s c -l config -d 'Config file [default: $CCOPS_CONFIG, else ccops.yaml here or in the nearest parent folder]' -r -F
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from schedule" -s e -l env -d 'Environment [default: `default_environment` in the config, or the only one]' -r
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from schedule" -l log-format -d 'Format of the log lines on stderr' -r -f -a "text\t''
json\t''"
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from schedule" -l log-file -d 'Also append log lines to FILE' -r -F
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from schedule" -l remove -d 'Remove the entry'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from schedule" -l print -d 'Print the entry instead of installing it'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from schedule" -l dry-run -d 'Print the plan without acting'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from schedule" -l json -d 'Machine-readable output on stdout (one JSON document)'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from schedule" -s q -l quiet -d 'Errors only (for crontab)'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from schedule" -s v -l verbose -d 'More detail on stderr (repeatable; -vv adds the raw error chain under an error)'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from schedule" -s y -l yes -d 'Answer yes to confirmations (required when stdin is not a terminal)'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from schedule" -l no-input -d 'Never wait for an answer, even at a terminal: a confirmation --yes did not answer fails (exit 2) before anything is changed'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from schedule" -l no-color -d 'No colours (NO_COLOR is honoured too)'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from schedule" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from schedule" -s V -l version -d 'Print version'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from help" -f -a "list" -d 'List backup sets, newest first'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from help" -f -a "verify" -d 'Re-check every file of a set against its manifest'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from help" -f -a "push" -d 'Upload a set, or every set not yet uploaded, to a remote'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from help" -f -a "prune" -d 'Delete backups the retention rules no longer keep'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from help" -f -a "drill" -d 'Restore a set into a throwaway copy of the project, check it, time it, remove it'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from help" -f -a "schedule" -d 'Install, show or remove the crontab entry for nightly backups'
complete -c ccops -n "__fish_ccops_using_subcommand backup; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ccops -n "__fish_ccops_using_subcommand restore" -l from -d 'Restore from this remote' -r
complete -c ccops -n "__fish_ccops_using_subcommand restore" -l only -d 'Restore only these kinds (postgres, mysql, redis, volume, command) or component names' -r
complete -c ccops -n "__fish_ccops_using_subcommand restore" -l timeout -d 'How long to wait for the services to be healthy again [default: deploy.timeout]' -r
complete -c ccops -n "__fish_ccops_using_subcommand restore" -l to-time -d 'Restore PostgreSQL as it was at TIME (point-in-time recovery from a base backup and the WAL archive): `2026-12-05 10:32:00` is in this host\'s local time zone; add an offset (`+01:00`) or `Z` for UTC' -r
complete -c ccops -n "__fish_ccops_using_subcommand restore" -l service -d 'With --to-time/--to-latest: the `backup.postgres` service to restore [default: the only one with `pitr`]' -r
complete -c ccops -n "__fish_ccops_using_subcommand restore" -s c -l config -d 'Config file [default: $CCOPS_CONFIG, else ccops.yaml here or in the nearest parent folder]' -r -F
complete -c ccops -n "__fish_ccops_using_subcommand restore" -s e -l env -d 'Environment [default: `default_environment` in the config, or the only one]' -r
complete -c ccops -n "__fish_ccops_using_subcommand restore" -l log-format -d 'Format of the log lines on stderr' -r -f -a "text\t''
json\t''"
complete -c ccops -n "__fish_ccops_using_subcommand restore" -l log-file -d 'Also append log lines to FILE' -r -F
complete -c ccops -n "__fish_ccops_using_subcommand restore" -l no-safety-backup -d 'Do not take a backup of the current state first'
complete -c ccops -n "__fish_ccops_using_subcommand restore" -l allow-unencrypted -d 'Restore a set with unencrypted files although `backup.encryption` is configured'
complete -c ccops -n "__fish_ccops_using_subcommand restore" -l to-latest -d 'Restore PostgreSQL to the newest WAL stored (point-in-time recovery; loses at most `pitr.wal_max_delay` of writes)'
complete -c ccops -n "__fish_ccops_using_subcommand restore" -l dry-run -d 'Print the plan without acting'
complete -c ccops -n "__fish_ccops_using_subcommand restore" -l json -d 'Machine-readable output on stdout (one JSON document)'
complete -c ccops -n "__fish_ccops_using_subcommand restore" -s q -l quiet -d 'Errors only (for crontab)'
complete -c ccops -n "__fish_ccops_using_subcommand restore" -s v -l verbose -d 'More detail on stderr (repeatable; -vv adds the raw error chain under an error)'
complete -c ccops -n "__fish_ccops_using_subcommand restore" -s y -l yes -d 'Answer yes to confirmations (required when stdin is not a terminal)'
complete -c ccops -n "__fish_ccops_using_subcommand restore" -l no-input -d 'Never wait for an answer, even at a terminal: a confirmation --yes did not answer fails (exit 2) before anything is changed'
complete -c ccops -n "__fish_ccops_using_subcommand restore" -l no-color -d 'No colours (NO_COLOR is honoured too)'
complete -c ccops -n "__fish_ccops_using_subcommand restore" -s h -l help -d 'Print help'
complete -c ccops -n "__fish_ccops_using_subcommand restore" -s V -l version -d 'Print version'
complete -c ccops -n "__fish_ccops_using_subcommand wal; and not __fish_seen_subcommand_from stream verify status help" -s c -l config -d 'Config file [default: $CCOPS_CONFIG, else ccops.yaml here or in the nearest parent folder]' -r -F
complete -c ccops -n "__fish_ccops_using_subcommand wal; and not __fish_seen_subcommand_from stream verify status help" -s e -l env -d 'Environment [default: `default_environment` in the config, or the only one]' -r
complete -c ccops -n "__fish_ccops_using_subcommand wal; and not __fish_seen_subcommand_from stream verify status help" -l log-format -d 'Format of the log lines on stderr' -r -f -a "text\t''
json\t''"
complete -c ccops -n "__fish_ccops_using_subcommand wal; and not __fish_seen_subcommand_from stream verify status help" -l log-file -d 'Also append log lines to FILE' -r -F
complete -c ccops -n "__fish_ccops_using_subcommand wal; and not __fish_seen_subcommand_from stream verify status help" -l json -d 'Machine-readable output on stdout (one JSON document)'
complete -c ccops -n "__fish_ccops_using_subcommand wal; and not __fish_seen_subcommand_from stream verify status help" -s q -l quiet -d 'Errors only (for crontab)'
complete -c ccops -n "__fish_ccops_using_subcommand wal; and not __fish_seen_subcommand_from stream verify status help" -s v -l verbose -d 'More detail on stderr (repeatable; -vv adds the raw error chain under an error)'
complete -c ccops -n "__fish_ccops_using_subcommand wal; and not __fish_seen_subcommand_from stream verify status help" -s y -l yes -d 'Answer yes to confirmations (required when stdin is not a terminal)'
complete -c ccops -n "__fish_ccops_using_subcommand wal; and not __fish_seen_subcommand_from stream verify status help" -l no-input -d 'Never wait for an answer, even at a terminal: a confirmation --yes did not answer fails (exit 2) before anything is changed'
complete -c ccops -n "__fish_ccops_using_subcommand wal; and not __fish_seen_subcommand_from stream verify status help" -l no-color -d 'No colours (NO_COLOR is honoured too)'
complete -c ccops -n "__fish_ccops_using_subcommand wal; and not __fish_seen_subcommand_from stream verify status help" -s h -l help -d 'Print help'
complete -c ccops -n "__fish_ccops_using_subcommand wal; and not __fish_seen_subcommand_from stream verify status help" -s V -l version -d 'Print version'
complete -c ccops -n "__fish_ccops_using_subcommand wal; and not __fish_seen_subcommand_from stream verify status help" -f -a "stream" -d 'Receive WAL into the archive until stopped (run it under systemd or as a service)'
complete -c ccops -n "__fish_ccops_using_subcommand wal; and not __fish_seen_subcommand_from stream verify status help" -f -a "verify" -d 'Check the archive has every segment from the oldest kept base backup on (exit 1 on a gap)'
complete -c ccops -n "__fish_ccops_using_subcommand wal; and not __fish_seen_subcommand_from stream verify status help" -f -a "status" -d 'What the archive holds and when WAL was last stored'
complete -c ccops -n "__fish_ccops_using_subcommand wal; and not __fish_seen_subcommand_from stream verify status help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ccops -n "__fish_ccops_using_subcommand wal; and __fish_seen_subcommand_from stream" -l service -d 'The PostgreSQL service [default: the only `backup.postgres` entry with `pitr`]' -r
complete -c ccops -n "__fish_ccops_using_subcommand wal; and __fish_seen_subcommand_from stream" -l upload -d 'Also copy the archive to this remote (retried while it is unreachable)' -r
complete -c ccops -n "__fish_ccops_using_subcommand wal; and __fish_seen_subcommand_from stream" -s c -l config -d 'Config file [default: $CCOPS_CONFIG, else ccops.yaml here or in the nearest parent folder]' -r -F
complete -c ccops -n "__fish_ccops_using_subcommand wal; and __fish_seen_subcommand_from stream" -s e -l env -d 'Environment [default: `default_environment` in the config, or the only one]' -r
complete -c ccops -n "__fish_ccops_using_subcommand wal; and __fish_seen_subcommand_from stream" -l log-format -d 'Format of the log lines on stderr' -r -f -a "text\t''
json\t''"
complete -c ccops -n "__fish_ccops_using_subcommand wal; and __fish_seen_subcommand_from stream" -l log-file -d 'Also append log lines to FILE' -r -F
complete -c ccops -n "__fish_ccops_using_subcommand wal; and __fish_seen_subcommand_from stream" -l json -d 'Machine-readable output on stdout (one JSON document)'
complete -c ccops -n "__fish_ccops_using_subcommand wal; and __fish_seen_subcommand_from stream" -s q -l quiet -d 'Errors only (for crontab)'
complete -c ccops -n "__fish_ccops_using_subcommand wal; and __fish_seen_subcommand_from stream" -s v -l verbose -d 'More detail on stderr (repeatable; -vv adds the raw error chain under an error)'
complete -c ccops -n "__fish_ccops_using_subcommand wal; and __fish_seen_subcommand_from stream" -s y -l yes -d 'Answer yes to confirmations (required when stdin is not a terminal)'
complete -c ccops -n "__fish_ccops_using_subcommand wal; and __fish_seen_subcommand_from stream" -l no-input -d 'Never wait for an answer, even at a terminal: a confirmation --yes did not answer fails (exit 2) before anything is changed'
complete -c ccops -n "__fish_ccops_using_subcommand wal; and __fish_seen_subcommand_from stream" -l no-color -d 'No colours (NO_COLOR is honoured too)'
complete -c ccops -n "__fish_ccops_using_subcommand wal; and __fish_seen_subcommand_from stream" -s h -l help -d 'Print help'
complete -c ccops -n "__fish_ccops_using_subcommand wal; and __fish_seen_subcommand_from stream" -s V -l version -d 'Print version'
complete -c ccops -n "__fish_ccops_using_subcommand wal; and __fish_seen_subcommand_from verify" -l service -d 'The PostgreSQL service [default: the only `backup.postgres` entry with `pitr`]' -r
complete -c ccops -n "__fish_ccops_using_subcommand wal; and __fish_seen_subcommand_from verify" -l remote -d 'Check the copy on this remote instead' -r
complete -c ccops -n "__fish_ccops_using_subcommand wal; and __fish_seen_subcommand_from verify" -s c -l config -d 'Config file [default: $CCOPS_CONFIG, else ccops.yaml here or in the nearest parent folder]' -r -F
complete -c ccops -n "__fish_ccops_using_subcommand wal; and __fish_seen_subcommand_from verify" -s e -l env -d 'Environment [default: `default_environment` in the config, or the only one]' -r
complete -c ccops -n "__fish_ccops_using_subcommand wal; and __fish_seen_subcommand_from verify" -l log-format -d 'Format of the log lines on stderr' -r -f -a "text\t''
json\t''"
complete -c ccops -n "__fish_ccops_using_subcommand wal; and __fish_seen_subcommand_from verify" -l log-file -d 'Also append log lines to FILE' -r -F
complete -c ccops -n "__fish_ccops_using_subcommand wal; and __fish_seen_subcommand_from verify" -l json -d 'Machine-readable output on stdout (one JSON document)'
complete -c ccops -n "__fish_ccops_using_subcommand wal; and __fish_seen_subcommand_from verify" -s q -l quiet -d 'Errors only (for crontab)'
complete -c ccops -n "__fish_ccops_using_subcommand wal; and __fish_seen_subcommand_from verify" -s v -l verbose -d 'More detail on stderr (repeatable; -vv adds the raw error chain under an error)'
complete -c ccops -n "__fish_ccops_using_subcommand wal; and __fish_seen_subcommand_from verify" -s y -l yes -d 'Answer yes to confirmations (required when stdin is not a terminal)'
complete -c ccops -n "__fish_ccops_using_subcommand wal; and __fish_seen_subcommand_from verify" -l no-input -d 'Never wait for an answer, even at a terminal: a confirmation --yes did not answer fails (exit 2) before anything is changed'
complete -c ccops -n "__fish_ccops_using_subcommand wal; and __fish_seen_subcommand_from verify" -l no-color -d 'No colours (NO_COLOR is honoured too)'
complete -c ccops -n "__fish_ccops_using_subcommand wal; and __fish_seen_subcommand_from verify" -s h -l help -d 'Print help'
complete -c ccops -n "__fish_ccops_using_subcommand wal; and __fish_seen_subcommand_from verify" -s V -l version -d 'Print version'
complete -c ccops -n "__fish_ccops_using_subcommand wal; and __fish_seen_subcommand_from status" -l service -d 'The PostgreSQL service [default: the only `backup.postgres` entry with `pitr`]' -r
complete -c ccops -n "__fish_ccops_using_subcommand wal; and __fish_seen_subcommand_from status" -s c -l config -d 'Config file [default: $CCOPS_CONFIG, else ccops.yaml here or in the nearest parent folder]' -r -F
complete -c ccops -n "__fish_ccops_using_subcommand wal; and __fish_seen_subcommand_from status" -s e -l env -d 'Environment [default: `default_environment` in the config, or the only one]' -r
complete -c ccops -n "__fish_ccops_using_subcommand wal; and __fish_seen_subcommand_from status" -l log-format -d 'Format of the log lines on stderr' -r -f -a "text\t''
json\t''"
complete -c ccops -n "__fish_ccops_using_subcommand wal; and __fish_seen_subcommand_from status" -l log-file -d 'Also append log lines to FILE' -r -F
complete -c ccops -n "__fish_ccops_using_subcommand wal; and __fish_seen_subcommand_from status" -l json -d 'Machine-readable output on stdout (one JSON document)'
complete -c ccops -n "__fish_ccops_using_subcommand wal; and __fish_seen_subcommand_from status" -s q -l quiet -d 'Errors only (for crontab)'
complete -c ccops -n "__fish_ccops_using_subcommand wal; and __fish_seen_subcommand_from status" -s v -l verbose -d 'More detail on stderr (repeatable; -vv adds the raw error chain under an error)'
complete -c ccops -n "__fish_ccops_using_subcommand wal; and __fish_seen_subcommand_from status" -s y -l yes -d 'Answer yes to confirmations (required when stdin is not a terminal)'
complete -c ccops -n "__fish_ccops_using_subcommand wal; and __fish_seen_subcommand_from status" -l no-input -d 'Never wait for an answer, even at a terminal: a confirmation --yes did not answer fails (exit 2) before anything is changed'
complete -c ccops -n "__fish_ccops_using_subcommand wal; and __fish_seen_subcommand_from status" -l no-color -d 'No colours (NO_COLOR is honoured too)'
complete -c ccops -n "__fish_ccops_using_subcommand wal; and __fish_seen_subcommand_from status" -s h -l help -d 'Print help'
complete -c ccops -n "__fish_ccops_using_subcommand wal; and __fish_seen_subcommand_from status" -s V -l version -d 'Print version'
complete -c ccops -n "__fish_ccops_using_subcommand wal; and __fish_seen_subcommand_from help" -f -a "stream" -d 'Receive WAL into the archive until stopped (run it under systemd or as a service)'
complete -c ccops -n "__fish_ccops_using_subcommand wal; and __fish_seen_subcommand_from help" -f -a "verify" -d 'Check the archive has every segment from the oldest kept base backup on (exit 1 on a gap)'
complete -c ccops -n "__fish_ccops_using_subcommand wal; and __fish_seen_subcommand_from help" -f -a "status" -d 'What the archive holds and when WAL was last stored'
complete -c ccops -n "__fish_ccops_using_subcommand wal; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ccops -n "__fish_ccops_using_subcommand scan" -l format -d 'Output format' -r -f -a "table\t''
json\t''
sarif\t''"
complete -c ccops -n "__fish_ccops_using_subcommand scan" -l min-severity -d 'Report findings at or above this severity' -r -f -a "info\t''
low\t''
medium\t''
high\t''
critical\t''"
complete -c ccops -n "__fish_ccops_using_subcommand scan" -l fail-on -d 'Exit 1 when a finding is at or above this severity' -r -f -a "info\t''
low\t''
medium\t''
high\t''
critical\t''"
complete -c ccops -n "__fish_ccops_using_subcommand scan" -s c -l config -d 'Config file [default: $CCOPS_CONFIG, else ccops.yaml here or in the nearest parent folder]' -r -F
complete -c ccops -n "__fish_ccops_using_subcommand scan" -s e -l env -d 'Environment [default: `default_environment` in the config, or the only one]' -r
complete -c ccops -n "__fish_ccops_using_subcommand scan" -l log-format -d 'Format of the log lines on stderr' -r -f -a "text\t''
json\t''"
complete -c ccops -n "__fish_ccops_using_subcommand scan" -l log-file -d 'Also append log lines to FILE' -r -F
complete -c ccops -n "__fish_ccops_using_subcommand scan" -l image -d 'Also run `trivy image` on the project\'s images, when trivy is installed'
complete -c ccops -n "__fish_ccops_using_subcommand scan" -l json -d 'Machine-readable output on stdout (one JSON document)'
complete -c ccops -n "__fish_ccops_using_subcommand scan" -s q -l quiet -d 'Errors only (for crontab)'
complete -c ccops -n "__fish_ccops_using_subcommand scan" -s v -l verbose -d 'More detail on stderr (repeatable; -vv adds the raw error chain under an error)'
complete -c ccops -n "__fish_ccops_using_subcommand scan" -s y -l yes -d 'Answer yes to confirmations (required when stdin is not a terminal)'
complete -c ccops -n "__fish_ccops_using_subcommand scan" -l no-input -d 'Never wait for an answer, even at a terminal: a confirmation --yes did not answer fails (exit 2) before anything is changed'
complete -c ccops -n "__fish_ccops_using_subcommand scan" -l no-color -d 'No colours (NO_COLOR is honoured too)'
complete -c ccops -n "__fish_ccops_using_subcommand scan" -s h -l help -d 'Print help'
complete -c ccops -n "__fish_ccops_using_subcommand scan" -s V -l version -d 'Print version'
complete -c ccops -n "__fish_ccops_using_subcommand config; and not __fish_seen_subcommand_from check show help" -s c -l config -d 'Config file [default: $CCOPS_CONFIG, else ccops.yaml here or in the nearest parent folder]' -r -F
complete -c ccops -n "__fish_ccops_using_subcommand config; and not __fish_seen_subcommand_from check show help" -s e -l env -d 'Environment [default: `default_environment` in the config, or the only one]' -r
complete -c ccops -n "__fish_ccops_using_subcommand config; and not __fish_seen_subcommand_from check show help" -l log-format -d 'Format of the log lines on stderr' -r -f -a "text\t''
json\t''"
complete -c ccops -n "__fish_ccops_using_subcommand config; and not __fish_seen_subcommand_from check show help" -l log-file -d 'Also append log lines to FILE' -r -F
complete -c ccops -n "__fish_ccops_using_subcommand config; and not __fish_seen_subcommand_from check show help" -l json -d 'Machine-readable output on stdout (one JSON document)'
complete -c ccops -n "__fish_ccops_using_subcommand config; and not __fish_seen_subcommand_from check show help" -s q -l quiet -d 'Errors only (for crontab)'
complete -c ccops -n "__fish_ccops_using_subcommand config; and not __fish_seen_subcommand_from check show help" -s v -l verbose -d 'More detail on stderr (repeatable; -vv adds the raw error chain under an error)'
complete -c ccops -n "__fish_ccops_using_subcommand config; and not __fish_seen_subcommand_from check show help" -s y -l yes -d 'Answer yes to confirmations (required when stdin is not a terminal)'
complete -c ccops -n "__fish_ccops_using_subcommand config; and not __fish_seen_subcommand_from check show help" -l no-input -d 'Never wait for an answer, even at a terminal: a confirmation --yes did not answer fails (exit 2) before anything is changed'
complete -c ccops -n "__fish_ccops_using_subcommand config; and not __fish_seen_subcommand_from check show help" -l no-color -d 'No colours (NO_COLOR is honoured too)'
complete -c ccops -n "__fish_ccops_using_subcommand config; and not __fish_seen_subcommand_from check show help" -s h -l help -d 'Print help'
complete -c ccops -n "__fish_ccops_using_subcommand config; and not __fish_seen_subcommand_from check show help" -s V -l version -d 'Print version'
complete -c ccops -n "__fish_ccops_using_subcommand config; and not __fish_seen_subcommand_from check show help" -f -a "check" -d 'Validate the config and the environment it selects'
complete -c ccops -n "__fish_ccops_using_subcommand config; and not __fish_seen_subcommand_from check show help" -f -a "show" -d 'Print the resolved config, secrets masked'
complete -c ccops -n "__fish_ccops_using_subcommand config; and not __fish_seen_subcommand_from check show help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ccops -n "__fish_ccops_using_subcommand config; and __fish_seen_subcommand_from check" -s c -l config -d 'Config file [default: $CCOPS_CONFIG, else ccops.yaml here or in the nearest parent folder]' -r -F
complete -c ccops -n "__fish_ccops_using_subcommand config; and __fish_seen_subcommand_from check" -s e -l env -d 'Environment [default: `default_environment` in the config, or the only one]' -r
complete -c ccops -n "__fish_ccops_using_subcommand config; and __fish_seen_subcommand_from check" -l log-format -d 'Format of the log lines on stderr' -r -f -a "text\t''
json\t''"
complete -c ccops -n "__fish_ccops_using_subcommand config; and __fish_seen_subcommand_from check" -l log-file -d 'Also append log lines to FILE' -r -F
complete -c ccops -n "__fish_ccops_using_subcommand config; and __fish_seen_subcommand_from check" -l json -d 'Machine-readable output on stdout (one JSON document)'
complete -c ccops -n "__fish_ccops_using_subcommand config; and __fish_seen_subcommand_from check" -s q -l quiet -d 'Errors only (for crontab)'
complete -c ccops -n "__fish_ccops_using_subcommand config; and __fish_seen_subcommand_from check" -s v -l verbose -d 'More detail on stderr (repeatable; -vv adds the raw error chain under an error)'
complete -c ccops -n "__fish_ccops_using_subcommand config; and __fish_seen_subcommand_from check" -s y -l yes -d 'Answer yes to confirmations (required when stdin is not a terminal)'
complete -c ccops -n "__fish_ccops_using_subcommand config; and __fish_seen_subcommand_from check" -l no-input -d 'Never wait for an answer, even at a terminal: a confirmation --yes did not answer fails (exit 2) before anything is changed'
complete -c ccops -n "__fish_ccops_using_subcommand config; and __fish_seen_subcommand_from check" -l no-color -d 'No colours (NO_COLOR is honoured too)'
complete -c ccops -n "__fish_ccops_using_subcommand config; and __fish_seen_subcommand_from check" -s h -l help -d 'Print help'
complete -c ccops -n "__fish_ccops_using_subcommand config; and __fish_seen_subcommand_from check" -s V -l version -d 'Print version'
complete -c ccops -n "__fish_ccops_using_subcommand config; and __fish_seen_subcommand_from show" -s c -l config -d 'Config file [default: $CCOPS_CONFIG, else ccops.yaml here or in the nearest parent folder]' -r -F
complete -c ccops -n "__fish_ccops_using_subcommand config; and __fish_seen_subcommand_from show" -s e -l env -d 'Environment [default: `default_environment` in the config, or the only one]' -r
complete -c ccops -n "__fish_ccops_using_subcommand config; and __fish_seen_subcommand_from show" -l log-format -d 'Format of the log lines on stderr' -r -f -a "text\t''
json\t''"
complete -c ccops -n "__fish_ccops_using_subcommand config; and __fish_seen_subcommand_from show" -l log-file -d 'Also append log lines to FILE' -r -F
complete -c ccops -n "__fish_ccops_using_subcommand config; and __fish_seen_subcommand_from show" -l json -d 'Machine-readable output on stdout (one JSON document)'
complete -c ccops -n "__fish_ccops_using_subcommand config; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Errors only (for crontab)'
complete -c ccops -n "__fish_ccops_using_subcommand config; and __fish_seen_subcommand_from show" -s v -l verbose -d 'More detail on stderr (repeatable; -vv adds the raw error chain under an error)'
complete -c ccops -n "__fish_ccops_using_subcommand config; and __fish_seen_subcommand_from show" -s y -l yes -d 'Answer yes to confirmations (required when stdin is not a terminal)'
complete -c ccops -n "__fish_ccops_using_subcommand config; and __fish_seen_subcommand_from show" -l no-input -d 'Never wait for an answer, even at a terminal: a confirmation --yes did not answer fails (exit 2) before anything is changed'
complete -c ccops -n "__fish_ccops_using_subcommand config; and __fish_seen_subcommand_from show" -l no-color -d 'No colours (NO_COLOR is honoured too)'
complete -c ccops -n "__fish_ccops_using_subcommand config; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c ccops -n "__fish_ccops_using_subcommand config; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c ccops -n "__fish_ccops_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "check" -d 'Validate the config and the environment it selects'
complete -c ccops -n "__fish_ccops_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "show" -d 'Print the resolved config, secrets masked'
complete -c ccops -n "__fish_ccops_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ccops -n "__fish_ccops_using_subcommand init" -s c -l config -d 'Config file [default: $CCOPS_CONFIG, else ccops.yaml here or in the nearest parent folder]' -r -F
complete -c ccops -n "__fish_ccops_using_subcommand init" -s e -l env -d 'Environment [default: `default_environment` in the config, or the only one]' -r
complete -c ccops -n "__fish_ccops_using_subcommand init" -l log-format -d 'Format of the log lines on stderr' -r -f -a "text\t''
json\t''"
complete -c ccops -n "__fish_ccops_using_subcommand init" -l log-file -d 'Also append log lines to FILE' -r -F
complete -c ccops -n "__fish_ccops_using_subcommand init" -l force -d 'Overwrite an existing ccops.yaml'
complete -c ccops -n "__fish_ccops_using_subcommand init" -l json -d 'Machine-readable output on stdout (one JSON document)'
complete -c ccops -n "__fish_ccops_using_subcommand init" -s q -l quiet -d 'Errors only (for crontab)'
complete -c ccops -n "__fish_ccops_using_subcommand init" -s v -l verbose -d 'More detail on stderr (repeatable; -vv adds the raw error chain under an error)'
complete -c ccops -n "__fish_ccops_using_subcommand init" -s y -l yes -d 'Answer yes to confirmations (required when stdin is not a terminal)'
complete -c ccops -n "__fish_ccops_using_subcommand init" -l no-input -d 'Never wait for an answer, even at a terminal: a confirmation --yes did not answer fails (exit 2) before anything is changed'
complete -c ccops -n "__fish_ccops_using_subcommand init" -l no-color -d 'No colours (NO_COLOR is honoured too)'
complete -c ccops -n "__fish_ccops_using_subcommand init" -s h -l help -d 'Print help'
complete -c ccops -n "__fish_ccops_using_subcommand init" -s V -l version -d 'Print version'
complete -c ccops -n "__fish_ccops_using_subcommand doctor" -s c -l config -d 'Config file [default: $CCOPS_CONFIG, else ccops.yaml here or in the nearest parent folder]' -r -F
complete -c ccops -n "__fish_ccops_using_subcommand doctor" -s e -l env -d 'Environment [default: `default_environment` in the config, or the only one]' -r
complete -c ccops -n "__fish_ccops_using_subcommand doctor" -l log-format -d 'Format of the log lines on stderr' -r -f -a "text\t''
json\t''"
complete -c ccops -n "__fish_ccops_using_subcommand doctor" -l log-file -d 'Also append log lines to FILE' -r -F
complete -c ccops -n "__fish_ccops_using_subcommand doctor" -l json -d 'Machine-readable output on stdout (one JSON document)'
complete -c ccops -n "__fish_ccops_using_subcommand doctor" -s q -l quiet -d 'Errors only (for crontab)'
complete -c ccops -n "__fish_ccops_using_subcommand doctor" -s v -l verbose -d 'More detail on stderr (repeatable; -vv adds the raw error chain under an error)'
complete -c ccops -n "__fish_ccops_using_subcommand doctor" -s y -l yes -d 'Answer yes to confirmations (required when stdin is not a terminal)'
complete -c ccops -n "__fish_ccops_using_subcommand doctor" -l no-input -d 'Never wait for an answer, even at a terminal: a confirmation --yes did not answer fails (exit 2) before anything is changed'
complete -c ccops -n "__fish_ccops_using_subcommand doctor" -l no-color -d 'No colours (NO_COLOR is honoured too)'
complete -c ccops -n "__fish_ccops_using_subcommand doctor" -s h -l help -d 'Print help'
complete -c ccops -n "__fish_ccops_using_subcommand doctor" -s V -l version -d 'Print version'
complete -c ccops -n "__fish_ccops_using_subcommand completions" -s c -l config -d 'Config file [default: $CCOPS_CONFIG, else ccops.yaml here or in the nearest parent folder]' -r -F
complete -c ccops -n "__fish_ccops_using_subcommand completions" -s e -l env -d 'Environment [default: `default_environment` in the config, or the only one]' -r
complete -c ccops -n "__fish_ccops_using_subcommand completions" -l log-format -d 'Format of the log lines on stderr' -r -f -a "text\t''
json\t''"
complete -c ccops -n "__fish_ccops_using_subcommand completions" -l log-file -d 'Also append log lines to FILE' -r -F
complete -c ccops -n "__fish_ccops_using_subcommand completions" -l json -d 'Machine-readable output on stdout (one JSON document)'
complete -c ccops -n "__fish_ccops_using_subcommand completions" -s q -l quiet -d 'Errors only (for crontab)'
complete -c ccops -n "__fish_ccops_using_subcommand completions" -s v -l verbose -d 'More detail on stderr (repeatable; -vv adds the raw error chain under an error)'
complete -c ccops -n "__fish_ccops_using_subcommand completions" -s y -l yes -d 'Answer yes to confirmations (required when stdin is not a terminal)'
complete -c ccops -n "__fish_ccops_using_subcommand completions" -l no-input -d 'Never wait for an answer, even at a terminal: a confirmation --yes did not answer fails (exit 2) before anything is changed'
complete -c ccops -n "__fish_ccops_using_subcommand completions" -l no-color -d 'No colours (NO_COLOR is honoured too)'
complete -c ccops -n "__fish_ccops_using_subcommand completions" -s h -l help -d 'Print help'
complete -c ccops -n "__fish_ccops_using_subcommand completions" -s V -l version -d 'Print version'
complete -c ccops -n "__fish_ccops_using_subcommand help; and not __fish_seen_subcommand_from deploy rollback releases scale migrate health backup restore wal scan config init doctor completions help" -f -a "deploy" -d 'Deploy VERSION to an environment (backup, migrate, roll out, check health)'
complete -c ccops -n "__fish_ccops_using_subcommand help; and not __fish_seen_subcommand_from deploy rollback releases scale migrate health backup restore wal scan config init doctor completions help" -f -a "rollback" -d 'Go back to the previous successful release, or the one named'
complete -c ccops -n "__fish_ccops_using_subcommand help; and not __fish_seen_subcommand_from deploy rollback releases scale migrate health backup restore wal scan config init doctor completions help" -f -a "releases" -d 'Deployment history of an environment'
complete -c ccops -n "__fish_ccops_using_subcommand help; and not __fish_seen_subcommand_from deploy rollback releases scale migrate health backup restore wal scan config init doctor completions help" -f -a "scale" -d 'Set the number of replicas of services, e.g. `backend=3 worker=8`'
complete -c ccops -n "__fish_ccops_using_subcommand help; and not __fish_seen_subcommand_from deploy rollback releases scale migrate health backup restore wal scan config init doctor completions help" -f -a "migrate" -d 'Run or inspect database migrations'
complete -c ccops -n "__fish_ccops_using_subcommand help; and not __fish_seen_subcommand_from deploy rollback releases scale migrate health backup restore wal scan config init doctor completions help" -f -a "health" -d 'Check every service\'s containers and the configured health checks'
complete -c ccops -n "__fish_ccops_using_subcommand help; and not __fish_seen_subcommand_from deploy rollback releases scale migrate health backup restore wal scan config init doctor completions help" -f -a "backup" -d 'Take a backup of the project\'s databases and volumes, or manage backups'
complete -c ccops -n "__fish_ccops_using_subcommand help; and not __fish_seen_subcommand_from deploy rollback releases scale migrate health backup restore wal scan config init doctor completions help" -f -a "restore" -d 'Restore a backup (verified before anything is touched)'
complete -c ccops -n "__fish_ccops_using_subcommand help; and not __fish_seen_subcommand_from deploy rollback releases scale migrate health backup restore wal scan config init doctor completions help" -f -a "wal" -d 'PostgreSQL\'s WAL archive for point-in-time recovery: stream, verify, status'
complete -c ccops -n "__fish_ccops_using_subcommand help; and not __fish_seen_subcommand_from deploy rollback releases scale migrate health backup restore wal scan config init doctor completions help" -f -a "scan" -d 'Audit the Compose project for security and production-readiness problems'
complete -c ccops -n "__fish_ccops_using_subcommand help; and not __fish_seen_subcommand_from deploy rollback releases scale migrate health backup restore wal scan config init doctor completions help" -f -a "config" -d 'Validate or print the resolved configuration'
complete -c ccops -n "__fish_ccops_using_subcommand help; and not __fish_seen_subcommand_from deploy rollback releases scale migrate health backup restore wal scan config init doctor completions help" -f -a "init" -d 'Write a ccops.yaml for the Compose project in this folder'
complete -c ccops -n "__fish_ccops_using_subcommand help; and not __fish_seen_subcommand_from deploy rollback releases scale migrate health backup restore wal scan config init doctor completions help" -f -a "doctor" -d 'Preflight: engine, compose, config, services, tools, disk, remotes, cron'
complete -c ccops -n "__fish_ccops_using_subcommand help; and not __fish_seen_subcommand_from deploy rollback releases scale migrate health backup restore wal scan config init doctor completions help" -f -a "completions" -d 'Print shell completions'
complete -c ccops -n "__fish_ccops_using_subcommand help; and not __fish_seen_subcommand_from deploy rollback releases scale migrate health backup restore wal scan config init doctor completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ccops -n "__fish_ccops_using_subcommand help; and __fish_seen_subcommand_from backup" -f -a "list" -d 'List backup sets, newest first'
complete -c ccops -n "__fish_ccops_using_subcommand help; and __fish_seen_subcommand_from backup" -f -a "verify" -d 'Re-check every file of a set against its manifest'
complete -c ccops -n "__fish_ccops_using_subcommand help; and __fish_seen_subcommand_from backup" -f -a "push" -d 'Upload a set, or every set not yet uploaded, to a remote'
complete -c ccops -n "__fish_ccops_using_subcommand help; and __fish_seen_subcommand_from backup" -f -a "prune" -d 'Delete backups the retention rules no longer keep'
complete -c ccops -n "__fish_ccops_using_subcommand help; and __fish_seen_subcommand_from backup" -f -a "drill" -d 'Restore a set into a throwaway copy of the project, check it, time it, remove it'
complete -c ccops -n "__fish_ccops_using_subcommand help; and __fish_seen_subcommand_from backup" -f -a "schedule" -d 'Install, show or remove the crontab entry for nightly backups'
complete -c ccops -n "__fish_ccops_using_subcommand help; and __fish_seen_subcommand_from wal" -f -a "stream" -d 'Receive WAL into the archive until stopped (run it under systemd or as a service)'
complete -c ccops -n "__fish_ccops_using_subcommand help; and __fish_seen_subcommand_from wal" -f -a "verify" -d 'Check the archive has every segment from the oldest kept base backup on (exit 1 on a gap)'
complete -c ccops -n "__fish_ccops_using_subcommand help; and __fish_seen_subcommand_from wal" -f -a "status" -d 'What the archive holds and when WAL was last stored'
complete -c ccops -n "__fish_ccops_using_subcommand help; and __fish_seen_subcommand_from config" -f -a "check" -d 'Validate the config and the environment it selects'
complete -c ccops -n "__fish_ccops_using_subcommand help; and __fish_seen_subcommand_from config" -f -a "show" -d 'Print the resolved config, secrets masked'
