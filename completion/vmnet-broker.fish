# fish completion for vmnet-broker(1). Network names, leases and ports are asked
# from the daemon (`networks --names`, `status --names`, `status`), with the
# --socket given on the line.

set -l commands status networks acquire run wait-address release forward stop doctor check-config

# The --socket of the line so far, as arguments.
function __vmnet_broker_socket
    set -l words (commandline -opc)
    set -l i (contains -i -- --socket $words)
    and test (count $words) -gt $i
    and printf '%s\n' --socket $words[(math $i + 1)]
    and return
    for w in $words
        if string match -q -- '--socket=*' $w
            printf '%s\n' --socket (string replace -- '--socket=' '' $w)
            return
        end
    end
end

function __vmnet_broker_networks
    vmnet-broker (__vmnet_broker_socket) $argv[1] --names 2>/dev/null
end

function __vmnet_broker_leases
    vmnet-broker (__vmnet_broker_socket) status 2>/dev/null |
        awk '/^    (tap|netns|named_tap) / && !/another user/ { print $2 }'
end

# The ports one may wait on: the IFNAME and LABEL columns of status.
function __vmnet_broker_ports
    vmnet-broker (__vmnet_broker_socket) status 2>/dev/null |
        awk '$1 ~ /^(tap|netns|named_tap)$/ && !/another user/ {
            print $2; n = NF; if ($n == "(persistent)") n--
            if (n == 8 && $8 != "-") print $8 }'
end

# `forward` has its subcommand and no lease yet.
function __vmnet_broker_forward_wants
    set -l words (commandline -opc)
    set -l rest
    set -l skip 0
    for w in $words[3..-1]
        if test $skip = 1
            set skip 0
            continue
        end
        switch $w
            case --socket
                set skip 1
            case --id
                set skip 1
                set -a rest id
            case '-*'
            case '*'
                set -a rest $w
        end
    end
    switch $argv[1]
        case sub
            test (count $rest) -eq 0
        case lease
            test (count $rest) -eq 1
    end
end

complete -c vmnet-broker -f
complete -c vmnet-broker -l socket -r -F -d 'the daemon socket'
complete -c vmnet-broker -s h -l help -d 'show help'
complete -c vmnet-broker -n "not __fish_seen_subcommand_from $commands" -s V -l version -d 'show the version'

complete -c vmnet-broker -n "not __fish_seen_subcommand_from $commands" -a status -d 'show the networks that are up and their leases'
complete -c vmnet-broker -n "not __fish_seen_subcommand_from $commands" -a networks -d 'list every network the daemon can create'
complete -c vmnet-broker -n "not __fish_seen_subcommand_from $commands" -a acquire -d 'acquire a port on a network and print it'
complete -c vmnet-broker -n "not __fish_seen_subcommand_from $commands" -a run -d 'run a command with a TAP port on each network'
complete -c vmnet-broker -n "not __fish_seen_subcommand_from $commands" -a wait-address -d 'wait until the guest behind a port has an IPv4 address'
complete -c vmnet-broker -n "not __fish_seen_subcommand_from $commands" -a release -d 'end a lease now'
complete -c vmnet-broker -n "not __fish_seen_subcommand_from $commands" -a forward -d 'forward host ports to a lease, stop, list'
complete -c vmnet-broker -n "not __fish_seen_subcommand_from $commands" -a stop -d 'remove a running network (root only)'
complete -c vmnet-broker -n "not __fish_seen_subcommand_from $commands" -a doctor -d 'check this host for what would break guests'
complete -c vmnet-broker -n "not __fish_seen_subcommand_from $commands" -a check-config -d 'check the network files'

complete -c vmnet-broker -n "__fish_seen_subcommand_from status networks" -l json -d 'print the reply as JSON'
complete -c vmnet-broker -n "__fish_seen_subcommand_from status networks" -l names -d 'print only the names'

complete -c vmnet-broker -n "__fish_seen_subcommand_from acquire" -a "(__vmnet_broker_networks networks)"
complete -c vmnet-broker -n "__fish_seen_subcommand_from acquire" -l port -x -a 'tap netns named_tap none' -d 'the kind of port'
complete -c vmnet-broker -n "__fish_seen_subcommand_from acquire" -l mac -x -d 'the port MAC address'
complete -c vmnet-broker -n "__fish_seen_subcommand_from acquire" -l label -x -d 'free text shown in status'
complete -c vmnet-broker -n "__fish_seen_subcommand_from acquire" -l ifname -x -d 'netns: name inside it; named_tap: the TAP name'
complete -c vmnet-broker -n "__fish_seen_subcommand_from acquire" -l netns -r -F -d 'put a veth end into this namespace'
complete -c vmnet-broker -n "__fish_seen_subcommand_from acquire" -l forward -x -d 'forward a host port (tcp:2222:22)'
complete -c vmnet-broker -n "__fish_seen_subcommand_from acquire" -l persistent -d 'the lease outlives the connection'
complete -c vmnet-broker -n "__fish_seen_subcommand_from acquire" -l json -d 'print the reply as JSON'
complete -c vmnet-broker -n "__fish_seen_subcommand_from acquire" -l hold -d 'keep the lease until SIGINT or SIGTERM'

complete -c vmnet-broker -n "__fish_seen_subcommand_from run" -s n -l network -x -a "(__vmnet_broker_networks networks)" -d 'a TAP port on this network'
complete -c vmnet-broker -n "__fish_seen_subcommand_from run" -s v -l verbose -d 'print each port acquired'

complete -c vmnet-broker -n "__fish_seen_subcommand_from wait-address" -a "(__vmnet_broker_ports)"
complete -c vmnet-broker -n "__fish_seen_subcommand_from wait-address" -s t -l timeout -x -d 'give up after this many seconds'
complete -c vmnet-broker -n "__fish_seen_subcommand_from wait-address" -s n -l network -x -a "(__vmnet_broker_networks status)" -d "only that network's ports"
complete -c vmnet-broker -n "__fish_seen_subcommand_from wait-address" -l json -d 'print the reply as JSON'

complete -c vmnet-broker -n "__fish_seen_subcommand_from release" -a "(__vmnet_broker_leases)"
complete -c vmnet-broker -n "__fish_seen_subcommand_from release forward" -l id -x -d 'the lease by its id'
complete -c vmnet-broker -n "__fish_seen_subcommand_from release forward stop" -l json -d 'print the reply as JSON'

complete -c vmnet-broker -n "__fish_seen_subcommand_from forward; and __vmnet_broker_forward_wants sub" -a 'add remove list'
complete -c vmnet-broker -n "__fish_seen_subcommand_from forward; and __vmnet_broker_forward_wants lease" -a "(__vmnet_broker_leases)"

complete -c vmnet-broker -n "__fish_seen_subcommand_from stop" -a "(__vmnet_broker_networks status)"
complete -c vmnet-broker -n "__fish_seen_subcommand_from stop" -l force -d 'end its leases too'

complete -c vmnet-broker -n "__fish_seen_subcommand_from check-config" -a "(__fish_complete_directories)"
