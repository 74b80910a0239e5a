//go:build !linux

package driver_test

import (
	"errors"
	"os/exec"
	"time"
)

func lastCPU() (int, struct{}, error) { return 0, struct{}{}, errNoPin }

var errNoPin = errors.New("pinning to CPUs is implemented for Linux only")

func startOnLastCPU(*exec.Cmd) error { return errNoPin }

func pinProcessAwayFromLastCPU() (func(), error) { return nil, errNoPin }

func processCPU() time.Duration { return 0 }
