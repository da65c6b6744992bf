module vmnet-broker.invalid/vmnetbroker

go 1.19
