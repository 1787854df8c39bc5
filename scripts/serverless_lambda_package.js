'use strict';
// A local Serverless plugin (serverless.yml `plugins`): once a package is built and
// serverless-python-requirements (listed before this plugin, so its hook on the same event runs first) has
// put the dependencies into it, scripts/lambda_package.py adds bytecode for every module and JSON copies
// of the YAML rules and routes files (VALIDATION_RULES names one). Both ways a package is built: the
// service's (`package`, `deploy`) and one function's (`deploy function`). Run with the interpreter the
// requirements were installed with.
const path = require('path');
const { execFileSync } = require('child_process');

class LambdaPackage {
  constructor(serverless, options) {
    this.serverless = serverless;
    this.options = options || {};
    this.hooks = {
      'after:package:createDeploymentArtifacts': () => this.finish(this.serviceArtifact()),
      'after:deploy:function:packageFunction': () => this.finish(this.functionArtifact()),
    };
  }

  serviceArtifact() {
    const service = this.serverless.service;
    return service.package.artifact || path.join('.serverless', `${service.service}.zip`);
  }

  functionArtifact() {
    const functionObject = this.serverless.service.getFunction(this.options.function);
    return (functionObject.package && functionObject.package.artifact) || this.serviceArtifact();
  }

  finish(artifact) {
    const service = this.serverless.service;
    const serviceDir = this.serverless.serviceDir;
    const python = (service.custom.pythonRequirements || {}).pythonBin || 'python3';
    execFileSync(
      python,
      ['-m', 'scripts.lambda_package', path.resolve(serviceDir, artifact), '--runtime', service.provider.runtime],
      { cwd: serviceDir, stdio: 'inherit' }
    );
  }
}

module.exports = LambdaPackage;
