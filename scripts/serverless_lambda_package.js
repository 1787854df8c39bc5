'use strict';
// A local Serverless plugin (serverless.yml `plugins`): once the package is built and
// serverless-python-requirements (listed before this plugin, so its hook runs first) has put the
// dependencies into it, scripts/lambda_package.py adds bytecode for every module and JSON copies of the
// YAML rules and routes files. Run with the interpreter the requirements were installed with.
const path = require('path');
const { execFileSync } = require('child_process');

class LambdaPackage {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = { 'after:package:createDeploymentArtifacts': () => this.finish() };
  }

  finish() {
    const service = this.serverless.service;
    const serviceDir = this.serverless.serviceDir;
    const artifact = path.resolve(
      serviceDir,
      service.package.artifact || path.join('.serverless', `${service.service}.zip`)
    );
    const python = (service.custom.pythonRequirements || {}).pythonBin || 'python3';
    execFileSync(
      python,
      ['-m', 'scripts.lambda_package', artifact, '--runtime', service.provider.runtime],
      { cwd: serviceDir, stdio: 'inherit' }
    );
  }
}

module.exports = LambdaPackage;
