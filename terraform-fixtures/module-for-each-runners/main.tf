provider "aws" {
  region = "eu-west-1"
}

module "network" {
  source = "./modules/network"
}

resource "aws_security_group" "runner" {
  name        = "runner"
  description = "runner security group"
  vpc_id      = module.network.vpc_id
  egress {
    description = "all egress"
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
  tags = { Name = "runner" }
}

module "runner" {
  source             = "./modules/runner"
  for_each           = toset(["linux", "windows"])
  name               = "actions-runner-${each.key}"
  subnet_id          = module.network.private_subnet_id
  security_group_ids = [aws_security_group.runner.id]
}
