// pulumi-language-python: the engine's language host for Python programs, policy packs and
// component packages.
//
// Pulumi's own host (module github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3) is
// published only as pseudo-versions, and the Go module proxy this project builds from serves none of
// them. This host is a small main over the same SDK packages that one is built on: the Python
// toolchain package (virtualenv resolution, package listing) and the engine's gRPC protocol. The
// program itself runs under pulumi-language-python-exec from the pulumi SDK module, as with
// Pulumi's host; policy packs and component packages run as `python <dir> <args>` in their
// virtualenv, as Pulumi's host runs bare plugin directories.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/cmdutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/pulumi/pulumi/sdk/v3/python/toolchain"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

// userActionableExit is the exit code pulumi-language-python-exec uses after it has shown the user
// an error message: the engine should not add its own.
const userActionableExit = 32

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	exec string // pulumi-language-python-exec
}

func main() {
	// The flags the engine may pass Pulumi's host; the program's root and runtime options also arrive in
	// each request's ProgramInfo, which is what this host reads.
	flag.String("tracing", "", "ignored: tracing is not supported by this host")
	flag.String("root", "", "the program's root directory (ignored: requests carry it)")
	flag.String("virtualenv", "", "ignored: the runtime option `virtualenv` is read from each request")
	flag.String("toolchain", "", "ignored: the runtime option `toolchain` is read from each request")
	flag.String("typechecker", "", "ignored: no type checker is run")
	flag.Parse()
	self, err := os.Executable()
	if err != nil {
		cmdutil.Exit(err)
	}
	execScript := self + "-exec"
	if _, err := os.Stat(execScript); err != nil {
		if execScript, err = exec.LookPath("pulumi-language-python-exec"); err != nil {
			cmdutil.Exit(errors.New("pulumi-language-python-exec is neither beside this host nor on PATH"))
		}
	}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, &host{exec: execScript})
			return nil
		},
		Options: rpcutil.OpenTracingServerInterceptorOptions(nil),
	})
	if err != nil {
		cmdutil.Exit(fmt.Errorf("could not start the language host's gRPC server: %w", err))
	}
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		cmdutil.Exit(err)
	}
}

// pythonToolchain resolves the project's Python from Pulumi.yaml's runtime options
// (`virtualenv`, `toolchain`), as Pulumi's host does; a plugin (policy pack, component package)
// without a `virtualenv` option runs in `venv` beside it, as with Pulumi's host.
func pythonToolchain(info *pulumirpc.ProgramInfo, plugin bool) (toolchain.Toolchain, error) {
	opts := toolchain.PythonOptions{Root: info.GetRootDirectory(), ProgramDir: info.GetProgramDirectory()}
	options := info.GetOptions().AsMap()
	if venv, ok := options["virtualenv"].(string); ok {
		opts.Virtualenv = venv
	} else if plugin {
		opts.Virtualenv = "venv"
	}
	switch options["toolchain"] {
	case nil, "pip":
		opts.Toolchain = toolchain.Pip
	default:
		return nil, fmt.Errorf("runtime option toolchain %q: this host supports pip only", options["toolchain"])
	}
	return toolchain.ResolveToolchain(opts)
}

func (h *host) Handshake(context.Context, *pulumirpc.LanguageHandshakeRequest) (*pulumirpc.LanguageHandshakeResponse, error) {
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version.Version}, nil
}

// pluginManifests prints the pulumi-plugin.json of every installed distribution: the same files
// Pulumi's host reads to learn which resource plugin each Pulumi SDK needs.
const pluginManifests = `
import importlib.metadata, json
found = []
for dist in importlib.metadata.distributions():
    for f in dist.files or ():
        if f.name == "pulumi-plugin.json":
            found.append(json.loads(f.locate().read_text()))
print(json.dumps(found))
`

// GetRequiredPackages names the resource plugin of every installed Pulumi SDK, so the engine
// checks they are installed before the program runs.
func (h *host) GetRequiredPackages(
	ctx context.Context, req *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	tc, err := pythonToolchain(req.GetInfo(), false)
	if err != nil {
		return nil, err
	}
	cmd, err := tc.Command(ctx, "-c", pluginManifests)
	if err != nil {
		return nil, err
	}
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("listing the Pulumi SDKs installed for %s: %w", req.GetInfo().GetProgramDirectory(), err)
	}
	var manifests []struct {
		Resource bool   `json:"resource"`
		Name     string `json:"name"`
		Version  string `json:"version"`
		Server   string `json:"server"`
	}
	if err := json.Unmarshal(out, &manifests); err != nil {
		return nil, err
	}
	var packages []*pulumirpc.PackageDependency
	for _, m := range manifests {
		if m.Resource && m.Name != "" && m.Version != "" {
			packages = append(packages, &pulumirpc.PackageDependency{
				Kind: "resource", Name: m.Name, Version: "v" + strings.TrimPrefix(m.Version, "v"), Server: m.Server,
			})
		}
	}
	return &pulumirpc.GetRequiredPackagesResponse{Packages: packages}, nil
}

// Run executes the program under pulumi-language-python-exec with the stack's configuration in
// PULUMI_CONFIG and the names of its secret keys in PULUMI_CONFIG_SECRET_KEYS.
func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	tc, err := pythonToolchain(req.GetInfo(), false)
	if err != nil {
		return nil, err
	}
	if err := tc.ValidateVenv(ctx); err != nil {
		return nil, err
	}
	program := req.GetProgram()
	if program == "" {
		program = "."
	}
	args := []string{
		h.exec,
		"--monitor", req.GetMonitorAddress(), "--engine", engineAddress(req),
		"--project", req.GetProject(), "--stack", req.GetStack(), "--pwd", req.GetPwd(),
		"--dry_run", fmt.Sprint(req.GetDryRun()), "--parallel", fmt.Sprint(req.GetParallel()),
		"--organization", req.GetOrganization(), "--root_directory", req.GetInfo().GetRootDirectory(),
		program,
	}
	cmd, err := tc.Command(ctx, append(args, req.GetArgs()...)...)
	if err != nil {
		return nil, err
	}
	config, err := json.Marshal(req.GetConfig())
	if err != nil {
		return nil, err
	}
	secretKeys, err := json.Marshal(append([]string{}, req.GetConfigSecretKeys()...))
	if err != nil {
		return nil, err
	}
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, "PULUMI_CONFIG="+string(config), "PULUMI_CONFIG_SECRET_KEYS="+string(secretKeys))
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) && exitErr.ExitCode() == userActionableExit {
			return &pulumirpc.RunResponse{Bail: true}, nil
		}
		if errors.As(err, &exitErr) {
			return &pulumirpc.RunResponse{Error: fmt.Sprintf("Program exited with non-zero exit code: %d", exitErr.ExitCode())}, nil
		}
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("could not run the Python program: %v", err)}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

// engineAddress is the engine's gRPC address: the language host's own first argument.
func engineAddress(*pulumirpc.RunRequest) string { return flag.Arg(0) }

// RunPlugin runs a policy pack or a component package: `python <dir> <args>` in its virtualenv.
func (h *host) RunPlugin(req *pulumirpc.RunPluginRequest, server pulumirpc.LanguageRuntime_RunPluginServer) error {
	tc, err := pythonToolchain(req.GetInfo(), true)
	if err != nil {
		return err
	}
	cmd, err := tc.Command(server.Context(), append([]string{req.GetInfo().GetProgramDirectory()}, req.GetArgs()...)...)
	if err != nil {
		return err
	}
	closer, stdout, stderr, err := rpcutil.MakeRunPluginStreams(server, false)
	if err != nil {
		return err
	}
	defer closer.Close()
	cmd.Dir = req.GetPwd()
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, req.GetEnv()...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	code := int32(0)
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) {
			return err
		}
		code = int32(exitErr.ExitCode())
	}
	if err := closer.Close(); err != nil {
		return err
	}
	return server.Send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: code}})
}

// InstallDependencies creates the virtualenv and installs requirements.txt into it (`pulumi install`).
func (h *host) InstallDependencies(
	req *pulumirpc.InstallDependenciesRequest, server pulumirpc.LanguageRuntime_InstallDependenciesServer,
) error {
	tc, err := pythonToolchain(req.GetInfo(), false)
	if err != nil {
		return err
	}
	closer, stdout, stderr, err := rpcutil.MakeInstallDependenciesStreams(server, req.GetIsTerminal())
	if err != nil {
		return err
	}
	defer closer.Close()
	if err := tc.InstallDependencies(server.Context(), req.GetInfo().GetProgramDirectory(),
		req.GetUseLanguageVersionTools(), true, stdout, stderr); err != nil {
		return err
	}
	return closer.Close()
}

func (h *host) GetProgramDependencies(
	ctx context.Context, req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	tc, err := pythonToolchain(req.GetInfo(), false)
	if err != nil {
		return nil, err
	}
	installed, err := tc.ListPackages(ctx, req.GetTransitiveDependencies())
	if err != nil {
		return nil, err
	}
	deps := make([]*pulumirpc.DependencyInfo, 0, len(installed))
	for _, pkg := range installed {
		deps = append(deps, &pulumirpc.DependencyInfo{Name: pkg.Name, Version: pkg.Version})
	}
	return &pulumirpc.GetProgramDependenciesResponse{Dependencies: deps}, nil
}

func (h *host) About(ctx context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	tc, err := pythonToolchain(req.GetInfo(), false)
	if err != nil {
		return nil, err
	}
	info, err := tc.About(ctx)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.AboutResponse{Executable: info.PythonExecutable, Version: info.PythonVersion.String()}, nil
}
